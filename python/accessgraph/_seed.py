"""The seed access registry of SPEC 5.1, shipped inside the package for ``acme_graph``.

``examples/seed_registry.md`` holds the same text (a test keeps the two equal); it lives
here too so that the pytest plugin works from an installed wheel.
"""

from __future__ import annotations

SEED_REGISTRY = """\
# PostHog Access Registry
## Owners
- jane@example.com (CTO)
- john@example.com (VP Engineering)
## Admins
- alice@example.com (Engineering Manager)
- bob@example.com (Product Lead)
## Members
- charlie@example.com (Senior Engineer)
- diana@example.com (Product Manager)
- evan@example.com (Data Analyst)
## Viewers
- ceo@example.com (CEO)
- cmo@example.com (CMO)
## External Access
- consultant@agency.com (Marketing Consultant, expires 2024-06-01)
"""
