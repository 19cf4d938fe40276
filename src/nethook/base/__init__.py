"""The ground floor: errors, exit codes, the run context, careful file handling, logging.

Nothing here imports any other part of nethook.
"""
