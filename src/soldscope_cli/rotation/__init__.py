"""Rotating the app's LWA client secret through Amazon's Application Management API and SQS."""
