"""codename's benchmark: what a new terminal, a prompt and a claim cost, against the floors
they cannot go below, on this machine, in this run. `python -m bench` runs every family of
comparisons; `python -m bench claim` one. See bench/README.md."""
