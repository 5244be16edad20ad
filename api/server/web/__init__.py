"""Web pages for inspectors and analysts (sign-in, flag queue and review, entity, regional
dashboard, report and Excel downloads), served by the API app: ``api.server.web.router.web_router``,
mounted by ``api.server.app.create_app``."""
