"""For gunicorn: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (reads $CERTHOOK_CONFIG)."""
from certhook import create_app

app = create_app()
