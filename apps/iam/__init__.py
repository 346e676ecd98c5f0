"""Identity and access management: the policy language and its evaluation.

``apps.iam.policy`` is a pure-Python core with no Django imports, so it can be
tested, fuzzed and reused (the simulator, the CLI) without a database. The Django
parts (stored policies, roles, temporary credentials, request wiring) wrap it.
"""
