"""Notifications: the outbox and its delivery by email over SMTP, SMS through a provider, and
group chat robots (企业微信, 钉钉, 飞书) configured per unit; in-app rows are the bell's."""
