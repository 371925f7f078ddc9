"""Alerts: status changes, sync failures and the app's rejection, sent once through Apprise.

targets.py reads where alerts go (SOLDSCOPE_NOTIFY_URLS and [[notify]] tables) and registers every
URL as a secret; alerts.py decides, from the rows and the `notified` events, what is new; message.py
words it; sender.py delivers through Apprise with a bounded wait (imported only when sending);
announce.py ties them together for validate and sync.
"""
