"""backprop-grader: a sandboxed autograder for hand-written backpropagation assignments.

Module map. The trust boundary runs between ``boundary/`` (trusted, in the grader's process) and
``worker/`` (the only code that runs inside a sandbox, next to the student's files).

- ``cli/``: the ``grade`` command line: subcommands, shared options, exit codes, terminal output
  (``student``: the smaller ``grade`` command of a student bundle).
- ``engine/``: grading one submission: intake (``intake``), assignment packs (``packs``), the rubric
  runner (``rubric``), value checks (``compare``) and the end-to-end ``grading``; the student bundle
  (``bundle``: ``grade pack bundle``) and the frozen trusted values its checks replay (``frozen``).
- ``pack``: the one public module assignment-pack authors import from.
- ``assignments/``: the built-in assignment packs (checks and mistake catalogues; trusted).
- ``boundary/``: the trusted side of the worker boundary: worker sessions (``rpc``) and the
  ``student`` proxy that checks use to call into a submission.
- ``worker/``: the sandboxed worker (standard library, numpy and torch only).
- ``sandbox/``: how workers are isolated (docker, bwrap, process) and the Docker image.
- ``batch/``: class grading: rosters, jobs, executors (local or Dask), parallel slots, progress.
- ``report/``: class reports (gradebook, HTML, feedback) from a folder of results.
- ``writers/``: result formats (JSON, Gradescope, JUnit, Markdown).
- ``results``: the result schema every output is written from.
"""

__version__ = "0.1.0"
