"""``python -m reference``: check the reference against the toy problem's published figures."""

import sys

from reference.hlcv_ex2.toy import self_check

if __name__ == "__main__":
    sys.exit(0 if self_check() else 1)
