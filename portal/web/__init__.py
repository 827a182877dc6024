"""The server-rendered pages: one package per blueprint (``auth``, ``account``, ``dashboard``,
``settings``, ``event_pages``), the form base and the navigation they share."""
