"""``python -m prodsec`` runs the CLI."""

from prodsec.cli import main

if __name__ == "__main__":
    main()
