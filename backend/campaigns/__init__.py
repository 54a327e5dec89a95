"""Campaigns (docs/campaigns.md): time-boxed bonus points on settled actions, paid from a budget.

The rule is ``points_engine.campaigns``; here are its tables (``store``), the workers' granting
(``grants``), the admins' changes (``admin``) and reads (``burndown``), and the citizens' list of
their bonuses (``bonuses``).
"""
