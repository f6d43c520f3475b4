"""``python -m tools.docsgen > docs/playbooks.md`` writes the generated playbook reference."""

from tools.docsgen.reference import main

main()
