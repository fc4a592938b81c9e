"""The demo (``manage.py seed_demo``, ``make run``; DEBUG only): two clinics set
up, ninety days of history played through the product's services, then what
happens now.

The top layer beside ``config``: it drives every app, and no app imports it.
Each app's own ``demo`` module seeds that app's rows (``demo.seed`` finds them).
"""
