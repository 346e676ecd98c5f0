def test_create_describe_delete(ecr, aws_account):
    created = ecr.create_repository(repositoryName="team/app", imageTagMutability="IMMUTABLE")["repository"]
    assert created["repositoryName"] == "team/app"
    assert created["registryId"] == aws_account.account_id
    found = ecr.describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in found] == ["team/app"]
    import pytest

    with pytest.raises(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName="team/app")
    ecr.delete_repository(repositoryName="team/app")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=["team/app"])
