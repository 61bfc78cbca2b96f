"""The signed post-call webhook to the app backend, and a local backend that receives it."""
