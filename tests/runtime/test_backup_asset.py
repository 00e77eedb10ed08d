"""baas_backup_asset: the job's asset with a watcher on Airflow 3, a clear error on 2.11."""

from __future__ import annotations

import pytest

from airflow_provider_baas._compat import AirflowException, asset_state_accessors
from airflow_provider_baas.assets import baas_asset, baas_backup_asset, backup_watchers_supported
from airflow_provider_baas.triggers.events import BaasBackupEventTrigger
from tests.airflow_version import AIRFLOW_V_3


def test_watchers_are_supported_exactly_on_airflow_3() -> None:
    assert backup_watchers_supported() is AIRFLOW_V_3


@pytest.mark.skipif(not AIRFLOW_V_3, reason="asset watchers are Airflow 3")
def test_the_asset_is_the_jobs_backup_asset_with_one_watcher() -> None:
    watched = baas_backup_asset(
        "HTTPS://BaaS.example.com/x", "prod-site", "34", statuses=["failed", "SUCCESSFUL"], poll_interval=30
    )
    assert watched.uri == baas_asset("baas.example.com", "prod-site", 34).uri
    (watcher,) = watched.watchers
    assert watcher.name == "baas_backup_prod-site_34_failed_successful"
    assert isinstance(watcher.trigger, BaasBackupEventTrigger)
    assert watcher.trigger.serialize()[1] == {
        "job_id": "34",
        "site_id": "prod-site",
        "baas_conn_id": "baas_default",
        "statuses": ["FAILED", "SUCCESSFUL"],
        "poll_interval": 30.0,
    }


@pytest.mark.skipif(not AIRFLOW_V_3, reason="asset watchers are Airflow 3")
def test_the_same_arguments_give_the_same_trigger() -> None:
    first, second = (baas_backup_asset("baas.example.com", "s", 34) for _ in range(2))
    assert first.watchers[0].trigger.serialize() == second.watchers[0].trigger.serialize()


@pytest.mark.skipif(AIRFLOW_V_3, reason="Airflow 2.11 has no asset watchers")
def test_airflow_2_gets_a_clear_error() -> None:
    with pytest.raises(AirflowException, match="need Airflow 3"):
        baas_backup_asset("baas.example.com", "prod-site", 34)


def test_bad_arguments_fail_while_parsing() -> None:
    with pytest.raises(ValueError, match="still running"):
        baas_backup_asset("baas.example.com", "prod-site", 34, statuses=["QUEUED"])
    with pytest.raises(ValueError, match="positive"):
        baas_backup_asset("baas.example.com", "prod-site", 34, poll_interval=0)


class _Accessor:
    def __init__(self, name: str) -> None:
        self.name = name


class _Accessors:
    """The shape of Airflow 3.3's AssetStateStoreAccessors: one accessor per watched asset."""

    def __init__(self, *names: str) -> None:
        self._by_name = {n: _Accessor(n) for n in names}
        self._by_uri: dict[str, _Accessor] = {}


def test_a_trigger_watching_several_assets_writes_to_each_store() -> None:
    trigger = BaasBackupEventTrigger(job_id=34)
    assert asset_state_accessors(trigger) == []  # no store injected: Airflow < 3.3, or no asset
    trigger.asset_state_store = _Accessors("a", "b")
    assert [a.name for a in asset_state_accessors(trigger)] == ["a", "b"]


def test_airflow_s_own_accessors_give_one_store_per_watched_asset() -> None:
    context = pytest.importorskip("airflow.sdk.execution_time.context")
    if not hasattr(context, "AssetStateStoreAccessors"):
        pytest.skip("no asset state store on this Airflow (< 3.3)")
    from airflow.sdk import Asset

    trigger = BaasBackupEventTrigger(job_id=34)
    trigger.asset_state_store = context.AssetStateStoreAccessors(
        inlets=[Asset(name="a", uri="baas://h/s/jobs/34"), Asset(name="b", uri="baas://h/s/jobs/35")]
    )
    stores = asset_state_accessors(trigger)
    assert len(stores) == 2 and all(hasattr(s, "aget") and hasattr(s, "aset") for s in stores)
