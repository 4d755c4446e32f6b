"""Options of the commands that reach a backup store off the machine (s3://, azure://,
https://). Secrets are never options: they come from the environment, the AWS chain, or a file
named here."""

from __future__ import annotations

from typing import Annotated, Any

import typer

EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint-url", metavar="URL",
    help="s3:// an S3-compatible service (else AWS_ENDPOINT_URL_S3/AWS_ENDPOINT_URL); azure:// the blob endpoint.")]
AwsProfileOpt = Annotated[str | None, typer.Option(
    "--aws-profile", metavar="NAME", help="s3:// credentials and region of this AWS profile (~/.aws/config).")]
StoreCredentialsOpt = Annotated[str | None, typer.Option(
    "--store-credentials", metavar="FILE",
    help="NAME=value lines: AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or "
         "AZURE_STORAGE_SAS_TOKEN; FCRCTL_STORE_USER and FCRCTL_STORE_PASSWORD for https:// (else the environment).")]
HeaderFileOpt = Annotated[str | None, typer.Option(
    "--header-file", metavar="FILE", help="https:// stores: 'Name: value' lines sent with every request.")]
StorageClassOpt = Annotated[str | None, typer.Option(
    "--storage-class", metavar="CLASS", help="s3:// storage class of what is uploaded (e.g. STANDARD_IA).")]


def store_options(cli: Any, endpoint_url: str | None, aws_profile: str | None, store_credentials: str | None,
                  header_file: str | None, storage_class: str | None = None) -> dict[str, Any]:
    """What open_store takes, with the global TLS options (--ca-bundle, --insecure) and where a
    store says what the user must know (--insecure against https://)."""
    s = cli.settings
    return {"endpoint_url": endpoint_url, "aws_profile": aws_profile, "credentials_file": store_credentials,
            "header_file": header_file, "storage_class": storage_class,
            "ca_bundle": s.ca_bundle, "insecure": s.insecure, "timeout": s.timeout, "warn": cli.out.warn}
