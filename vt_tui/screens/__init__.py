"""The app's screens: one module per screen, dialogs in dialogs.py."""
