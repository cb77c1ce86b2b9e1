"""The emulated Clean Rooms ML service, driven only through boto3 ``cleanroomsml`` clients.

``test_every_operation_is_served`` fails as soon as botocore's model has an operation the
emulator does not answer; ``test_every_operation_through_boto3`` calls every one of them (a
boto3 event hook records what was called and the test compares it with the model).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from botocore.exceptions import ClientError
from contract_helpers import NO_RETRY, Clock

from reconciler import emulator
from reconciler.aws_model import service_model
from reconciler.emulator.registry import OPERATIONS

ADVERTISER, PUBLISHER, STRANGER = "111122223333", "444455556666", "777788889999"
DATA = Path(__file__).resolve().parents[2] / "reconciler" / "examples" / "ml-lookalike" / "data"
ROLE = "arn:aws:iam::{}:role/r"
CHANNEL_SQL = "SELECT user_id, segment, lifetime_value FROM customers WHERE lifetime_value > 100"
SEED_SQL = "SELECT user_id FROM customers WHERE segment = 'loyal'"
SPARK = {
    "worker": {"type": "CR.1X", "number": 4, "properties": {"spark": {"spark.sql.shuffle.partitions": "8"}}}
}


@dataclass
class MLWorld:
    emu: emulator.Emulator
    adv: Any  # cleanroomsml, advertiser
    pub: Any  # cleanroomsml, publisher
    adv_cr: Any  # cleanrooms, advertiser
    pub_cr: Any
    collaboration: str
    adv_membership: str
    pub_membership: str
    dataset: str
    model: str
    configured: str
    audience_association: dict[str, Any]
    algorithm: str
    algorithm_association: str
    called: set[str]
    clock: Clock


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def ml(clock: Clock) -> Iterator[MLWorld]:
    called: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        called.add(model.name)

    with emulator.connect(now=clock) as emu:

        def client(service: str, account: str) -> Any:
            c = emu.client(service, account_id=account, config=NO_RETRY)
            if service == "cleanroomsml":
                c.meta.events.register("before-call.cleanroomsml", record)
            return c

        adv, pub = client("cleanroomsml", ADVERTISER), client("cleanroomsml", PUBLISHER)
        adv_cr, pub_cr = client("cleanrooms", ADVERTISER), client("cleanrooms", PUBLISHER)
        collab = adv_cr.create_collaboration(
            name="lookalike",
            creatorDisplayName="advertiser",
            creatorMemberAbilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
            members=[{"accountId": PUBLISHER, "displayName": "publisher", "memberAbilities": []}],
            queryLogStatus="DISABLED",
            analyticsEngine="SPARK",
        )["collaboration"]["id"]
        adv_m = adv_cr.create_membership(
            collaborationIdentifier=collab,
            queryLogStatus="DISABLED",
            paymentConfiguration={"queryCompute": {"isResponsible": True}},
        )["membership"]["id"]
        pub_m = pub_cr.create_membership(collaborationIdentifier=collab, queryLogStatus="DISABLED")[
            "membership"
        ]["id"]
        emu.catalog.register(ADVERTISER, "crm", "customers", DATA / "customers.csv")
        emu.catalog.register(PUBLISHER, "publisher", "interactions", DATA / "interactions.csv")
        table = adv_cr.create_configured_table(
            name="customers",
            tableReference={"glue": {"databaseName": "crm", "tableName": "customers"}},
            allowedColumns=["user_id", "segment", "lifetime_value"],
            analysisMethod="DIRECT_QUERY",
        )["configuredTable"]["id"]
        adv_cr.create_configured_table_analysis_rule(
            configuredTableIdentifier=table,
            analysisRuleType="CUSTOM",
            analysisRulePolicy={
                "v1": {
                    "custom": {
                        "allowedAnalyses": ["ANY_QUERY"],
                        "allowedAnalysisProviders": [ADVERTISER],
                        "additionalAnalyses": "ALLOWED",
                    }
                }
            },
        )
        association = adv_cr.create_configured_table_association(
            name="customers",
            membershipIdentifier=adv_m,
            configuredTableIdentifier=table,
            roleArn=ROLE.format(ADVERTISER),
        )["configuredTableAssociation"]["id"]
        adv_cr.create_configured_table_association_analysis_rule(
            membershipIdentifier=adv_m,
            configuredTableAssociationIdentifier=association,
            analysisRuleType="CUSTOM",
            analysisRulePolicy={
                "v1": {
                    "custom": {
                        "allowedResultReceivers": [ADVERTISER],
                        "allowedAdditionalAnalyses": [
                            f"arn:aws:cleanrooms:us-east-1:{PUBLISHER}:membership/*/configuredaudiencemodelassociation/*",
                            f"arn:aws:cleanrooms-ml:us-east-1:{ADVERTISER}:membership/*/configured-model-algorithm-association/*",
                        ],
                    }
                }
            },
        )
        dataset = pub.create_training_dataset(
            name="interactions",
            roleArn=ROLE.format(PUBLISHER),
            trainingData=[
                {
                    "type": "INTERACTIONS",
                    "inputConfig": {
                        "schema": [
                            {"columnName": "user_id", "columnTypes": ["USER_ID"]},
                            {"columnName": "item_id", "columnTypes": ["ITEM_ID"]},
                            {"columnName": "event_time", "columnTypes": ["TIMESTAMP"]},
                        ],
                        "dataSource": {
                            "glueDataSource": {"databaseName": "publisher", "tableName": "interactions"}
                        },
                    },
                }
            ],
            tags={"team": "ml"},
        )["trainingDatasetArn"]
        model = pub.create_audience_model(name="readers", trainingDatasetArn=dataset)["audienceModelArn"]
        configured = pub.create_configured_audience_model(
            name="readers-lookalike",
            audienceModelArn=model,
            outputConfig={
                "destination": {"s3Destination": {"s3Uri": "s3://publisher-audiences/lookalike/"}},
                "roleArn": ROLE.format(PUBLISHER),
            },
            sharedAudienceMetrics=["ALL"],
            minMatchingSeedSize=100,
            audienceSizeConfig={"audienceSizeType": "ABSOLUTE", "audienceSizeBins": [100, 200, 400]},
        )["configuredAudienceModelArn"]
        audience_association = pub_cr.create_configured_audience_model_association(
            membershipIdentifier=pub_m,
            configuredAudienceModelArn=configured,
            configuredAudienceModelAssociationName="readers",
            manageResourcePolicies=True,
        )["configuredAudienceModelAssociation"]
        algorithm = adv.create_configured_model_algorithm(
            name="propensity",
            roleArn=ROLE.format(ADVERTISER),
            trainingContainerConfig={"imageUri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/p:1"},
        )["configuredModelAlgorithmArn"]
        algorithm_association = adv.create_configured_model_algorithm_association(
            membershipIdentifier=adv_m, configuredModelAlgorithmArn=algorithm, name="propensity"
        )["configuredModelAlgorithmAssociationArn"]
        yield MLWorld(
            emu, adv, pub, adv_cr, pub_cr, collab, adv_m, pub_m, dataset, model, configured,
            audience_association, algorithm, algorithm_association, called, clock,
        )  # fmt: skip


def channel(w: MLWorld, sql: str = CHANNEL_SQL, name: str = "valuable", **extra: Any) -> str:
    return str(
        w.adv.create_ml_input_channel(
            membershipIdentifier=w.adv_membership,
            configuredModelAlgorithmAssociations=[w.algorithm_association],
            name=name,
            retentionInDays=7,
            inputChannel={
                "roleArn": ROLE.format(ADVERTISER),
                "dataSource": {
                    "protectedQueryInputParameters": {"sqlParameters": {"queryString": sql}, **extra}
                },
            },
        )["mlInputChannelArn"]
    )


def generate(w: MLWorld, name: str = "loyal", **seed: Any) -> str:
    return str(
        w.adv.start_audience_generation_job(
            name=name,
            configuredAudienceModelArn=w.configured,
            collaborationId=w.collaboration,
            seedAudience={
                "roleArn": ROLE.format(ADVERTISER),
                **(seed or {"sqlParameters": {"queryString": SEED_SQL}}),
            },
        )["audienceGenerationJobArn"]
    )


def test_every_operation_is_served() -> None:
    assert set(service_model("cleanroomsml").operation_names) - set(OPERATIONS["cleanroomsml"]) == set()
    for op in (
        "CreateConfiguredAudienceModelAssociation",
        "GetCollaborationConfiguredAudienceModelAssociation",
    ):
        assert op in OPERATIONS["cleanrooms"]


def test_an_input_channel_counts_what_its_query_returns_in_plain_duckdb(ml: MLWorld) -> None:
    arn = channel(ml, computeConfiguration=SPARK)
    got = ml.adv.get_ml_input_channel(membershipIdentifier=ml.adv_membership, mlInputChannelArn=arn)
    with duckdb.connect() as db:
        expected = db.execute(
            f"SELECT count(*) FROM read_csv_auto('{DATA / 'customers.csv'}') WHERE lifetime_value > 100"
        ).fetchone()[0]
    assert got["status"] == "ACTIVE"
    assert got["numberOfRecords"] == expected > 0
    assert got["numberOfFiles"] == 1 and 0 < got["sizeInGb"] < 1e-3
    query = ml.adv_cr.get_protected_query(
        membershipIdentifier=ml.adv_membership, protectedQueryIdentifier=got["protectedQueryIdentifier"]
    )["protectedQuery"]
    assert query["status"] == "SUCCESS"  # a real protected query, with the Spark properties passed through
    assert query["computeConfiguration"]["worker"]["properties"]["spark"] == {
        "spark.sql.shuffle.partitions": "8"
    }


def test_an_input_channel_query_the_rules_refuse_fails_and_reads_nothing(ml: MLWorld) -> None:
    arn = channel(ml, sql="SELECT * FROM customers, other_table")
    got = ml.adv.get_ml_input_channel(membershipIdentifier=ml.adv_membership, mlInputChannelArn=arn)
    assert got["status"] == "CREATE_FAILED"
    assert "numberOfRecords" not in got and got["statusDetails"]["message"]


def test_a_table_that_does_not_allow_additional_analyses_cannot_feed_a_channel(ml: MLWorld) -> None:
    table = ml.adv_cr.list_configured_tables()["configuredTableSummaries"][0]["id"]
    ml.adv_cr.update_configured_table_analysis_rule(
        configuredTableIdentifier=table,
        analysisRuleType="CUSTOM",
        analysisRulePolicy={
            "v1": {"custom": {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [ADVERTISER]}}
        },
    )
    arn = channel(ml)
    got = ml.adv.get_ml_input_channel(membershipIdentifier=ml.adv_membership, mlInputChannelArn=arn)
    assert got["status"] == "CREATE_FAILED"
    assert "additional analyses" in got["statusDetails"]["message"]
    assert "protectedQueryIdentifier" not in got  # no query ran
    with pytest.raises(ClientError) as exc:
        generate(ml)
    assert code(exc) == "ValidationException"


def test_an_input_channel_expires_after_its_retention(ml: MLWorld) -> None:
    arn = channel(ml)
    ml.adv.get_ml_input_channel(membershipIdentifier=ml.adv_membership, mlInputChannelArn=arn)
    ml.clock.advance(days=8)
    got = ml.adv.get_ml_input_channel(membershipIdentifier=ml.adv_membership, mlInputChannelArn=arn)
    assert got["status"] == "INACTIVE" and got["numberOfRecords"] == 0


@pytest.mark.parametrize(
    ("spark", "limit"),
    [
        ({f"k{i}": "v" for i in range(51)}, "length less than or equal to 50"),
        ({"k" * 201: "v"}, "length less than or equal to 200"),
        ({"k": "v" * 501}, "length less than or equal to 500"),
    ],
    ids=["51-properties", "201-character-key", "501-character-value"],
)
def test_spark_properties_over_the_model_limits_are_a_validation_exception(
    ml: MLWorld, spark: dict[str, str], limit: str
) -> None:
    compute = {"worker": {"type": "CR.1X", "number": 4, "properties": {"spark": spark}}}
    with pytest.raises(ClientError) as exc:
        channel(ml, computeConfiguration=compute)
    assert code(exc) == "ValidationException" and limit in str(exc.value)
    with pytest.raises(ClientError) as exc:
        generate(ml, sqlParameters={"queryString": SEED_SQL}, sqlComputeConfiguration=compute)
    assert code(exc) == "ValidationException" and limit in str(exc.value)
    assert ml.adv.list_ml_input_channels(membershipIdentifier=ml.adv_membership)["mlInputChannelsList"] == []


def test_an_sql_seeded_audience_reaches_active_with_relevance_and_recall(ml: MLWorld) -> None:
    job = generate(ml, sqlParameters={"queryString": SEED_SQL}, sqlComputeConfiguration=SPARK)
    got = ml.adv.get_audience_generation_job(audienceGenerationJobArn=job)
    assert got["status"] == "ACTIVE"
    scores = [m["score"] for m in got["metrics"]["relevanceMetrics"]]
    assert [m["audienceSize"]["value"] for m in got["metrics"]["relevanceMetrics"]] == [100, 200, 400]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores) and scores[0] > 0
    assert 0.2 < got["metrics"]["recallMetric"] <= 1  # better than random selection
    assert got["seedAudience"]["sqlComputeConfiguration"] == SPARK  # the starter sees its seed
    assert "seedAudience" not in ml.pub.get_audience_generation_job(audienceGenerationJobArn=job)
    with pytest.raises(ClientError):
        ml.emu.client("cleanroomsml", account_id=STRANGER, config=NO_RETRY).get_audience_generation_job(
            audienceGenerationJobArn=job
        )


def test_an_s3_seed_below_the_minimum_match_fails_and_include_seed_puts_it_first(ml: MLWorld) -> None:
    seed = ml.emu.results_root / "seeds" / "small.jsonl"
    seed.parent.mkdir(parents=True)
    seed.write_text("".join(json.dumps({"user_id": f"u{u:05d}"}) + "\n" for u in range(0, 150, 3)))
    small = generate(ml, "small", dataSource={"s3Uri": "s3://seeds/small.jsonl"})
    got = ml.adv.get_audience_generation_job(audienceGenerationJobArn=small)
    assert got["status"] == "CREATE_FAILED" and "at least 100" in got["statusDetails"]["message"]
    seed.write_text("".join(json.dumps({"user_id": f"u{u:05d}"}) + "\n" for u in range(0, 900, 3)))
    job = ml.adv.start_audience_generation_job(
        name="big",
        configuredAudienceModelArn=ml.configured,
        collaborationId=ml.collaboration,
        includeSeedInOutput=True,
        seedAudience={"roleArn": ROLE.format(ADVERTISER), "dataSource": {"s3Uri": "s3://seeds/"}},
    )["audienceGenerationJobArn"]
    assert ml.adv.get_audience_generation_job(audienceGenerationJobArn=job)["status"] == "ACTIVE"
    ml.pub.start_audience_export_job(
        name="top100", audienceGenerationJobArn=job, audienceSize={"type": "ABSOLUTE", "value": 100}
    )
    export = ml.pub.list_audience_export_jobs(audienceGenerationJobArn=job)["audienceExportJobs"][0]
    local = ml.emu.results_root.joinpath(*export["outputLocation"].removeprefix("s3://").split("/"))
    users = [json.loads(line)["user_id"] for line in local.read_text().splitlines()]
    assert len(users) == 100
    assert set(users) <= {f"u{u:05d}" for u in range(0, 900, 3)}  # the seed (300 users) comes first
    with pytest.raises(ClientError) as exc:
        ml.pub.start_audience_export_job(
            name="odd", audienceGenerationJobArn=job, audienceSize={"type": "ABSOLUTE", "value": 150}
        )
    assert code(exc) == "ValidationException"


def test_a_stranger_may_not_use_the_model_and_the_policy_lets_one_in(ml: MLWorld) -> None:
    stranger = ml.emu.client("cleanroomsml", account_id=STRANGER, config=NO_RETRY)
    seed = {"roleArn": ROLE.format(STRANGER), "dataSource": {"s3Uri": "s3://seeds/x.jsonl"}}
    with pytest.raises(ClientError) as exc:
        stranger.start_audience_generation_job(
            name="x", configuredAudienceModelArn=ml.configured, seedAudience=seed
        )
    assert code(exc) == "AccessDeniedException"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": STRANGER}, "Action": "cleanrooms-ml:*", "Resource": "*"}
        ],
    }
    put = ml.pub.put_configured_audience_model_policy(
        configuredAudienceModelArn=ml.configured, configuredAudienceModelPolicy=json.dumps(policy)
    )
    assert stranger.start_audience_generation_job(
        name="x", configuredAudienceModelArn=ml.configured, seedAudience=seed
    )
    with pytest.raises(ClientError) as exc:
        ml.pub.put_configured_audience_model_policy(
            configuredAudienceModelArn=ml.configured,
            configuredAudienceModelPolicy=json.dumps(policy),
            previousPolicyHash="0" * 64,
        )
    assert code(exc) == "ConflictException"
    assert (
        ml.pub.get_configured_audience_model_policy(configuredAudienceModelArn=ml.configured)["policyHash"]
        == put["policyHash"]
    )


def test_container_training_and_inference_end_failed_saying_why(ml: MLWorld) -> None:
    trained = ml.adv.create_trained_model(
        membershipIdentifier=ml.adv_membership,
        name="propensity-v1",
        configuredModelAlgorithmAssociationArn=ml.algorithm_association,
        resourceConfig={"instanceType": "ml.m5.xlarge", "volumeSizeInGB": 10},
        dataChannels=[{"mlInputChannelArn": channel(ml), "channelName": "train"}],
    )
    got = ml.adv.get_trained_model(
        membershipIdentifier=ml.adv_membership, trainedModelArn=trained["trainedModelArn"]
    )
    assert got["status"] == "CREATE_FAILED"
    assert "does not run in the local backend" in got["statusDetails"]["message"]
    job = ml.adv.start_trained_model_inference_job(
        membershipIdentifier=ml.adv_membership,
        name="score",
        trainedModelArn=trained["trainedModelArn"],
        resourceConfig={"instanceType": "ml.m5.xlarge", "instanceCount": 1},
        outputConfiguration={"members": [{"accountId": ADVERTISER}]},
        dataSource={"mlInputChannelArn": channel(ml, name="scoring")},
    )["trainedModelInferenceJobArn"]
    got = ml.adv.get_trained_model_inference_job(
        membershipIdentifier=ml.adv_membership, trainedModelInferenceJobArn=job
    )
    assert got["status"] == "CREATE_FAILED" and "inference does not run" in got["statusDetails"]["message"]


def test_every_operation_through_boto3(ml: MLWorld) -> None:  # noqa: PLR0915 - one walk over the whole API
    adv, pub, m = ml.adv, ml.pub, ml.adv_membership
    # account-level resources, their tags and lists
    assert pub.get_training_dataset(trainingDatasetArn=ml.dataset)["tags"] == {"team": "ml"}
    assert [d["trainingDatasetArn"] for d in pub.list_training_datasets()["trainingDatasets"]] == [ml.dataset]
    pub.tag_resource(resourceArn=ml.dataset, tags={"stage": "test"})
    assert pub.list_tags_for_resource(resourceArn=ml.dataset)["tags"] == {"team": "ml", "stage": "test"}
    pub.untag_resource(resourceArn=ml.dataset, tagKeys=["stage"])
    assert pub.get_audience_model(audienceModelArn=ml.model)["status"] == "ACTIVE"  # trained on read
    assert pub.list_audience_models()["audienceModels"][0]["status"] == "ACTIVE"
    pub.update_configured_audience_model(configuredAudienceModelArn=ml.configured, minMatchingSeedSize=120)
    assert (
        pub.get_configured_audience_model(configuredAudienceModelArn=ml.configured)["minMatchingSeedSize"]
        == 120
    )
    assert len(pub.list_configured_audience_models()["configuredAudienceModels"]) == 1
    pub.put_configured_audience_model_policy(
        configuredAudienceModelArn=ml.configured,
        configuredAudienceModelPolicy=json.dumps({"Statement": []}),
        policyExistenceCondition="POLICY_MUST_NOT_EXIST",
    )
    assert pub.get_configured_audience_model_policy(configuredAudienceModelArn=ml.configured)["policyHash"]
    pub.delete_configured_audience_model_policy(configuredAudienceModelArn=ml.configured)
    assert (
        adv.get_configured_model_algorithm(configuredModelAlgorithmArn=ml.algorithm)["name"] == "propensity"
    )
    assert len(adv.list_configured_model_algorithms()["configuredModelAlgorithms"]) == 1
    # membership-level resources and what the collaboration sees
    got = adv.get_configured_model_algorithm_association(
        membershipIdentifier=m, configuredModelAlgorithmAssociationArn=ml.algorithm_association
    )
    assert got["collaborationIdentifier"] == ml.collaboration
    assert adv.list_configured_model_algorithm_associations(membershipIdentifier=m)[
        "configuredModelAlgorithmAssociations"
    ]
    seen = pub.get_collaboration_configured_model_algorithm_association(
        collaborationIdentifier=ml.collaboration,
        configuredModelAlgorithmAssociationArn=ml.algorithm_association,
    )
    assert seen["creatorAccountId"] == ADVERTISER
    assert pub.list_collaboration_configured_model_algorithm_associations(
        collaborationIdentifier=ml.collaboration
    )["collaborationConfiguredModelAlgorithmAssociations"]
    output = {"destination": {"s3Destination": {"s3Uri": "s3://out/"}}, "roleArn": ROLE.format(ADVERTISER)}
    adv.put_ml_configuration(membershipIdentifier=m, defaultOutputLocation=output)
    assert adv.get_ml_configuration(membershipIdentifier=m)["defaultOutputLocation"] == output
    adv.delete_ml_configuration(membershipIdentifier=m)
    with pytest.raises(ClientError) as exc:
        adv.get_ml_configuration(membershipIdentifier=m)
    assert code(exc) == "ResourceNotFoundException"
    arn = channel(ml)
    assert adv.list_ml_input_channels(membershipIdentifier=m)["mlInputChannelsList"][0]["status"] == "ACTIVE"
    assert adv.get_ml_input_channel(membershipIdentifier=m, mlInputChannelArn=arn)["numberOfRecords"] > 0
    assert (
        pub.get_collaboration_ml_input_channel(
            collaborationIdentifier=ml.collaboration, mlInputChannelArn=arn
        )["creatorAccountId"]
        == ADVERTISER
    )
    assert pub.list_collaboration_ml_input_channels(collaborationIdentifier=ml.collaboration)[
        "collaborationMLInputChannelsList"
    ]
    # audience generation and export
    job = generate(ml)
    assert adv.get_audience_generation_job(audienceGenerationJobArn=job)["status"] == "ACTIVE"
    assert [
        j["audienceGenerationJobArn"] for j in pub.list_audience_generation_jobs()["audienceGenerationJobs"]
    ] == [job]
    pub.start_audience_export_job(
        name="top", audienceGenerationJobArn=job, audienceSize={"type": "ABSOLUTE", "value": 200}
    )
    assert (
        adv.list_audience_export_jobs(audienceGenerationJobArn=job)["audienceExportJobs"][0]["status"]
        == "ACTIVE"
    )
    adv.delete_audience_generation_job(audienceGenerationJobArn=job)
    # custom containers: the control plane
    trained = adv.create_trained_model(
        membershipIdentifier=m,
        name="t",
        configuredModelAlgorithmAssociationArn=ml.algorithm_association,
        resourceConfig={"instanceType": "ml.m5.xlarge", "volumeSizeInGB": 10},
        dataChannels=[{"mlInputChannelArn": arn, "channelName": "train"}],
    )["trainedModelArn"]
    assert adv.get_trained_model(membershipIdentifier=m, trainedModelArn=trained)["status"] == "CREATE_FAILED"
    assert adv.list_trained_models(membershipIdentifier=m)["trainedModels"][0]["status"] == "CREATE_FAILED"
    assert adv.list_trained_model_versions(membershipIdentifier=m, trainedModelArn=trained)["trainedModels"]
    assert pub.get_collaboration_trained_model(
        collaborationIdentifier=ml.collaboration, trainedModelArn=trained
    )
    assert pub.list_collaboration_trained_models(collaborationIdentifier=ml.collaboration)[
        "collaborationTrainedModels"
    ]
    for call in (
        lambda: adv.cancel_trained_model(membershipIdentifier=m, trainedModelArn=trained),
        lambda: adv.start_trained_model_export_job(
            name="e",
            membershipIdentifier=m,
            trainedModelArn=trained,
            outputConfiguration={"members": [{"accountId": ADVERTISER}]},
        ),
    ):
        with pytest.raises(ClientError):
            call()
    assert (
        pub.list_collaboration_trained_model_export_jobs(
            collaborationIdentifier=ml.collaboration, trainedModelArn=trained
        )["collaborationTrainedModelExportJobs"]
        == []
    )
    inference = adv.start_trained_model_inference_job(
        membershipIdentifier=m,
        name="i",
        trainedModelArn=trained,
        resourceConfig={"instanceType": "ml.m5.xlarge", "instanceCount": 1},
        outputConfiguration={"members": [{"accountId": ADVERTISER}]},
        dataSource={"mlInputChannelArn": arn},
    )["trainedModelInferenceJobArn"]
    assert adv.get_trained_model_inference_job(membershipIdentifier=m, trainedModelInferenceJobArn=inference)
    assert adv.list_trained_model_inference_jobs(membershipIdentifier=m)["trainedModelInferenceJobs"]
    assert pub.list_collaboration_trained_model_inference_jobs(collaborationIdentifier=ml.collaboration)[
        "collaborationTrainedModelInferenceJobs"
    ]
    with pytest.raises(ClientError):
        adv.cancel_trained_model_inference_job(membershipIdentifier=m, trainedModelInferenceJobArn=inference)
    adv.delete_trained_model_output(membershipIdentifier=m, trainedModelArn=trained)
    adv.delete_ml_input_channel_data(membershipIdentifier=m, mlInputChannelArn=arn)
    # deletes, children first (a parent still in use is refused)
    with pytest.raises(ClientError) as exc:
        pub.delete_training_dataset(trainingDatasetArn=ml.dataset)
    assert code(exc) == "ConflictException"
    ml.pub_cr.delete_configured_audience_model_association(
        membershipIdentifier=ml.pub_membership,
        configuredAudienceModelAssociationIdentifier=ml.audience_association["id"],
    )
    pub.delete_configured_audience_model(configuredAudienceModelArn=ml.configured)
    pub.delete_audience_model(audienceModelArn=ml.model)
    pub.delete_training_dataset(trainingDatasetArn=ml.dataset)
    adv.delete_configured_model_algorithm_association(
        membershipIdentifier=m, configuredModelAlgorithmAssociationArn=ml.algorithm_association
    )
    adv.delete_configured_model_algorithm(configuredModelAlgorithmArn=ml.algorithm)
    missing = set(service_model("cleanroomsml").operation_names) - ml.called
    assert missing == set(), f"call these through boto3 in this test: {sorted(missing)}"


def test_the_audience_model_association_in_cleanrooms(ml: MLWorld) -> None:
    a = ml.audience_association
    assert a["name"] == "readers" and a["configuredAudienceModelArn"] == ml.configured
    updated = ml.pub_cr.update_configured_audience_model_association(
        membershipIdentifier=ml.pub_membership,
        configuredAudienceModelAssociationIdentifier=a["id"],
        name="readers-2",
    )["configuredAudienceModelAssociation"]
    assert updated["name"] == "readers-2"
    seen = ml.adv_cr.list_collaboration_configured_audience_model_associations(
        collaborationIdentifier=ml.collaboration
    )
    assert [
        s["creatorAccountId"] for s in seen["collaborationConfiguredAudienceModelAssociationSummaries"]
    ] == [PUBLISHER]
    assert (
        ml.adv_cr.get_collaboration_configured_audience_model_association(
            collaborationIdentifier=ml.collaboration, configuredAudienceModelAssociationIdentifier=a["id"]
        )["collaborationConfiguredAudienceModelAssociation"]["name"]
        == "readers-2"
    )
    with pytest.raises(ClientError) as exc:  # another account's model cannot be associated
        ml.adv_cr.create_configured_audience_model_association(
            membershipIdentifier=ml.adv_membership,
            configuredAudienceModelArn=ml.configured,
            configuredAudienceModelAssociationName="theirs",
            manageResourcePolicies=False,
        )
    assert code(exc) == "ValidationException"


def test_a_membership_accepts_exactly_the_ml_costs_the_creator_assigned() -> None:
    """The API reference: FALSE when responsible, or TRUE when not, is an error (training, inference)."""
    training = {"machineLearning": {"modelTraining": {"isResponsible": True}}}
    with emulator.connect() as emu:
        adv = emu.client("cleanrooms", account_id=ADVERTISER, config=NO_RETRY)
        pub = emu.client("cleanrooms", account_id=PUBLISHER, config=NO_RETRY)
        collab = adv.create_collaboration(
            name="publisher-trains",
            creatorDisplayName="advertiser",
            creatorMemberAbilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
            members=[
                {
                    "accountId": PUBLISHER,
                    "displayName": "publisher",
                    "memberAbilities": [],
                    "paymentConfiguration": {"queryCompute": {"isResponsible": False}, **training},
                }
            ],
            queryLogStatus="DISABLED",
        )["collaboration"]["id"]
        with pytest.raises(
            ClientError
        ) as exc:  # the querier is not the default payer: the publisher was named
            adv.create_membership(
                collaborationIdentifier=collab,
                queryLogStatus="DISABLED",
                paymentConfiguration={"queryCompute": {"isResponsible": True}, **training},
            )
        assert code(exc) == "ValidationException" and "modelTraining.isResponsible must be false" in str(
            exc.value
        )
        declined = {
            "queryCompute": {"isResponsible": False},
            "machineLearning": {"modelTraining": {"isResponsible": False}},
        }
        with pytest.raises(ClientError) as exc:
            pub.create_membership(
                collaborationIdentifier=collab, queryLogStatus="DISABLED", paymentConfiguration=declined
            )
        assert code(exc) == "ValidationException" and "must be true" in str(exc.value)
        membership = pub.create_membership(
            collaborationIdentifier=collab,
            queryLogStatus="DISABLED",
            paymentConfiguration={"queryCompute": {"isResponsible": False}, **training},
        )["membership"]
        assert membership["paymentConfiguration"]["machineLearning"] == training["machineLearning"]
        with pytest.raises(ClientError) as exc:
            pub.update_membership(
                membershipIdentifier=membership["id"], membershipPaymentConfiguration=declined
            )
        assert code(exc) == "ValidationException"
        got = pub.get_membership(membershipIdentifier=membership["id"])["membership"]
        assert got["paymentConfiguration"]["machineLearning"] == training["machineLearning"]  # unchanged
