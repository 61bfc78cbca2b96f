"""Offline providers: they let a whole call run with no keys and no internet.

Each is named as such (`provider` = "offline ...") wherever it shows up; none pretends to be a
real model.
"""
