"""The iOS app stand-ins: the local APNs endpoint and the phone simulator."""
