"""The APIs the mock serves, one package each (see ``pipeline.API_MODULES``)."""
