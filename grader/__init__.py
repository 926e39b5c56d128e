"""backprop-grader: a sandboxed autograder for hand-written backpropagation assignments.

Module map. The trust boundary runs between ``boundary/`` (trusted, in the grader's process) and
``worker/`` (the only code that runs inside a sandbox, next to the student's files).

- ``cli/``: the ``grade`` command line: subcommands, shared options, exit codes, terminal output
  (``student``: the smaller ``grade`` command of a student bundle).
- ``engine/``: grading one submission: intake (``intake``, tar archives in ``tar_intake``), assignment
  packs (``packs``; ``validate`` and ``scaffold`` for ``grade pack``), the data sets they need
  (``datasets``), the rubric runner (``rubric``), value checks (``compare``), time budgets
  (``budget``), the grading secret the checks' inputs derive from (``secret``) and the end-to-end
  ``grading``; the student bundle (``bundle``: ``grade pack bundle``) and the frozen trusted values
  its checks replay (``frozen``).
- ``pack``: the one public module assignment-pack authors import from.
- ``assignments/``: the built-in assignment packs (checks and mistake catalogues; trusted).
- ``boundary/``: the trusted side of the worker boundary: worker sessions (``rpc``), bounded decoding
  of replies (``decode``) and the ``student`` proxy that checks use to call into a submission.
- ``worker/``: the sandboxed worker (standard library, numpy and torch only), and the zygote that
  forks bwrap workers from one warm interpreter.
- ``sandbox/``: how workers are isolated (docker, bwrap, process), the Docker image, what a bwrap
  worker may see (``allowlist``), the bwrap seccomp filter (``seccomp``) and cgroups (``cgroup``),
  one sandbox uid per grading (``uids``) and the zygote's host side (``zygote``).
- ``batch/``: class grading: rosters, LMS downloads (``lms``), jobs, executors (local or Dask), parallel
  slots, progress, code fingerprints for duplicates (``similarity``).
- ``report/``: class reports (gradebook, HTML, feedback, LMS gradebooks in ``lms``) from a folder of
  results.
- ``gradescope_kit``: the Gradescope autograder zip.
- ``writers/``: result formats (JSON, Gradescope, JUnit, Markdown).
- ``results``: the result schema every output is written from.
"""

__version__ = "0.1.0"
