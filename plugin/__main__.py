"""`python -m certhook`: the certhook command."""
from .cli import main

main()
