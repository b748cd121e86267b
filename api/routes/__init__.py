"""Route modules; `api.app.create_app` includes each module's `router`."""
