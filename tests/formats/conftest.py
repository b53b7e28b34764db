"""The format tests read the shipped real data (tests/data); see tests/realdata.py."""
