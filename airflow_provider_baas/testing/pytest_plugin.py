"""pytest plugin of airflow-provider-baas (work in progress; fixtures follow)."""
