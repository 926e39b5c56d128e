"""backprop-grader: a sandboxed autograder for hand-written backpropagation assignments."""

__version__ = "0.1.0"
