"""One rule for every path or URI: relative and `~` paths, file://, s3:// with options, gs://."""

import os

import pyarrow.fs as pafs

from data_pipeline import storage


def test_a_relative_path_is_local_and_absolute_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fs, path = storage.resolve("shards/centred/")
    assert isinstance(fs, pafs.LocalFileSystem) and path == str(tmp_path / "shards" / "centred")
    assert storage.absolute("./runs") == str(tmp_path / "runs")


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert storage.resolve("~/runs")[1] == str(tmp_path / "runs")
    assert storage.join("~/runs", "shards") == f"{tmp_path}/runs/shards"


def test_a_file_uri_is_local():
    fs, path = storage.resolve("file:///tmp/posetune/x/")
    assert isinstance(fs, pafs.LocalFileSystem) and path == "/tmp/posetune/x"
    assert (
        storage.is_local("file:///tmp/x") and storage.is_local("rel/x") and not storage.is_local("s3://b/x")
    )
    assert storage.absolute("file:///tmp/x") == "file:///tmp/x"


def test_s3_options_in_the_query_reach_the_filesystem_and_survive_a_join():
    uri = storage.join("s3://bucket/runs/?endpoint_override=localhost:9000&scheme=http", "exp", "shards")
    assert uri == "s3://bucket/runs/exp/shards?endpoint_override=localhost:9000&scheme=http"
    fs, path = storage.resolve(uri)
    options = fs.__reduce__()[1][0]
    assert isinstance(fs, pafs.S3FileSystem) and path == "bucket/runs/exp/shards"
    assert options["endpoint_override"] == "localhost:9000" and options["scheme"] == "http"


def test_gcs():
    fs, path = storage.resolve("gs://bucket/prefix/")
    assert isinstance(fs, pafs.GcsFileSystem) and path == "bucket/prefix"


def test_a_given_filesystem_takes_the_location_as_a_path_on_it():
    fs = pafs.LocalFileSystem()
    assert storage.resolve("bucket/x/", fs) == (fs, "bucket/x")


def test_an_empty_location_stays_empty_when_made_absolute():
    assert storage.absolute("") == ""  # an unset data.shards means "under storage.path"


def test_the_cache_follows_posetune_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("POSETUNE_CACHE", str(tmp_path))
    assert storage.cache_dir("journals") == os.path.join(str(tmp_path), "journals")
