"""The bundled Airflow DAGs (shipped as gpucheck._dags)."""
