"""The REST API (``/api/v1/``): reads for pollers, one write (a milestone's status).

Views stay thin: reads come from ``commitments.selectors``, the one write goes through
``commitments.services.milestone_set_status``. ``conditional`` makes polling cheap.
"""
