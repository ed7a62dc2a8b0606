"""The app factory: configuration, extensions, blueprints and CLI, nothing else."""
from pathlib import Path

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.extensions import babel, csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None) -> Flask:
    """Build the app; `config` (a mapping) overrides what the environment says, for tests."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    from webapp.config import from_environment
    app.config.from_object(from_environment(app.instance_path))
    if config:
        app.config.update(config)
    if app.config["TRUSTED_PROXIES"]:
        # The client's address and scheme as the load balancer saw them (sign-in throttle,
        # secure cookies); headers beyond the trusted hops are the client's and ignored.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(_translation_directories())

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    from webapp.i18n import select_locale
    babel.init_app(app, locale_selector=select_locale)
    app.extensions["redis"] = Redis.from_url(app.config["REDIS_URL"])

    from webapp import models  # noqa: F401  (registers the tables with SQLAlchemy)
    from webapp.errors import init_error_pages
    from webapp.security import init_security_headers
    init_security_headers(app)
    init_error_pages(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _translation_directories() -> list[str]:
    """Each capability keeps its own catalogue, so work on one never conflicts with another."""
    webapp = ROOT / "webapp"
    found = [webapp / "translations"] + sorted(webapp.glob("*/translations"))
    return [str(path) for path in found if path.is_dir()]


def _register_blueprints(app: Flask) -> None:
    from webapp.api.views import access_bp as api_access_bp
    from webapp.api.views import bp as api_bp
    from webapp.auth.views import bp as auth_bp
    from webapp.bounces.views import bp as bounces_bp
    from webapp.catcher.views import bp as catcher_bp
    from webapp.health.views import bp as health_bp
    from webapp.emaillog.views import bp as emaillog_bp
    from webapp.mailsettings.views import bp as mailsettings_bp
    from webapp.mailtemplates.views import bp as templates_bp
    from webapp.main.views import bp as main_bp
    from webapp.smtpcheck.views import bp as smtpcheck_bp
    from webapp.registration.views import bp as registration_bp
    from webapp.schedule.views import bp as schedule_bp
    from webapp.staff.views import bp as staff_bp
    from webapp.troubleshoot.views import bp as troubleshoot_bp

    for blueprint in (main_bp, auth_bp, health_bp, staff_bp, mailsettings_bp,
                      api_bp, api_access_bp, smtpcheck_bp, emaillog_bp, templates_bp, troubleshoot_bp,
                      registration_bp, schedule_bp, bounces_bp):
        app.register_blueprint(blueprint)
    if app.config["DEV_TOOLS"]:
        app.register_blueprint(catcher_bp)


def _register_cli(app: Flask) -> None:
    from webapp.cli import register
    register(app)
