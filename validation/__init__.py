"""Validation experiments: theory against real networks. Each script writes a report folder.

Run ``python -m validation.all --preset quick`` (about a minute) or ``--preset paper``.
"""
