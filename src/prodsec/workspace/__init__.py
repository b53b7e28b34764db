"""The compliance workspace: products, assessments, requirement statuses, controls, evidence and
the audit trail, over the database in ``prodsec.db``. Every function takes an ``Actor`` (who,
in which organisation, with which role) and a session; every query is scoped to the actor's
organisation. The CLI and the REST API call these same functions."""
