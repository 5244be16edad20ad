"""Web pages for inspectors and analysts (sign-in, flag queue and review, entity, regional
dashboard, report and Excel downloads), served by the API app: ``api.web.router.web_router``,
mounted by ``api.app.create_app``. ``api.web.session`` imports nothing from
``api.deps``, so ``api.deps`` may import it."""
