"""Merchants, their staff and their offers (administered), and the views of stock burn-down."""
