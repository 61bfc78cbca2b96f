"""Helpers the test areas share: local stand-ins for hosted APIs, databases, webhook sinks."""
