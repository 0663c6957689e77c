"""The mapped-sweep load test: the bundled Airflow DAG run against the cluster, measured from
Kubernetes. Airflow is optional (`pip install gpucheck[airflow]`); without it the sweep check
is skipped with the reason."""
