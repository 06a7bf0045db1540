"""``python -m vqlab``: the same as the ``vqlab`` command (also what ``torchrun -m vqlab`` runs)."""

from vqlab.cli import main

raise SystemExit(main())
