"""Class reports from a folder of result files (``grade report DIR``).

- :mod:`.collect` reads the results (and the batch summary, when there is one);
- :mod:`.analysis` computes what the instructor looks at: score distribution, pass rate per check,
  common mistakes, problem submissions, slowest submissions;
- :mod:`.gradebook` writes the CSV gradebook, :mod:`.html` the instructor's HTML report (charts from
  :mod:`.charts`), :mod:`.feedback` one Markdown file per student;
- :mod:`.build` writes them all; :mod:`.cli` is the command.
"""
