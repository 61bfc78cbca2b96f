"""VoIP pushes over APNs (token auth) and the credentials of the local APNs endpoint."""
