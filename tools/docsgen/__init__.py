"""The playbook reference generator: ``python -m tools.docsgen > docs/playbooks.md``."""
