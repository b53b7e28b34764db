"""prodsec — product-security regulation navigator and compliance workbench.

Layers (imports only point downwards):

* ``prodsec.core`` — the pure domain: the knowledge base view, product profiles, the rule
  evaluator and the applicability engine. No I/O, no web, database or CLI imports.
* ``prodsec.knowledge`` — the cited knowledge files (YAML), their schema and loader.
* ``prodsec.services`` — use cases composing core and adapters (queries, checks, pictures).
* ``prodsec.cli`` — the command-line shell.
"""

__version__ = "0.1.0"
