"""Loads every OpenLineage event of a JSONL file into openlineage-python's RunEvent classes,
with their validators (UUIDs, ISO instants, URIs), facet by facet; fails on a facet it does not
know, or on a schema URL that is not the class's. Prints how many events it checked."""

import json
import sys

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import (
    column_lineage_dataset as lineage,
    data_quality_assertions_dataset as assertions,
    data_quality_metrics_dataset as metrics,
    dataset_version_dataset as version,
    error_message_run as error,
    output_statistics_output_dataset as statistics,
    parent_run as parent,
    schema_dataset as schema,
)


def build(name, d):
    producer = d["_producer"]
    if name == "parent":
        facet = parent.ParentRunFacet(
            run=parent.Run(runId=d["run"]["runId"]),
            job=parent.Job(namespace=d["job"]["namespace"], name=d["job"]["name"]),
            producer=producer,
        )
    elif name == "errorMessage":
        facet = error.ErrorMessageRunFacet(
            message=d["message"], programmingLanguage=d["programmingLanguage"], producer=producer
        )
    elif name == "schema":
        fields = [schema.SchemaDatasetFacetFields(name=f["name"], type=f["type"]) for f in d["fields"]]
        facet = schema.SchemaDatasetFacet(fields=fields, producer=producer)
    elif name == "dataQualityMetrics":
        columns = {
            k: metrics.ColumnMetrics(nullCount=v["nullCount"]) for k, v in d.get("columnMetrics", {}).items()
        }
        facet = metrics.DataQualityMetricsDatasetFacet(
            rowCount=d.get("rowCount"), bytes=d.get("bytes"), columnMetrics=columns, producer=producer
        )
    elif name == "dataQualityAssertions":
        items = [assertions.Assertion(assertion=a["assertion"], success=a["success"]) for a in d["assertions"]]
        facet = assertions.DataQualityAssertionsDatasetFacet(assertions=items, producer=producer)
    elif name == "columnLineage":
        fields = {
            column: lineage.Fields(
                inputFields=[
                    lineage.InputField(
                        namespace=i["namespace"],
                        name=i["name"],
                        field=i["field"],
                        transformations=[
                            lineage.Transformation(type=t["type"], subtype=t.get("subtype"))
                            for t in i.get("transformations", [])
                        ],
                    )
                    for i in value["inputFields"]
                ]
            )
            for column, value in d["fields"].items()
        }
        facet = lineage.ColumnLineageDatasetFacet(fields=fields, producer=producer)
    elif name == "version":
        facet = version.DatasetVersionDatasetFacet(datasetVersion=d["datasetVersion"], producer=producer)
    elif name == "outputStatistics":
        facet = statistics.OutputStatisticsOutputDatasetFacet(
            rowCount=d.get("rowCount"), size=d.get("size"), producer=producer
        )
    else:
        raise ValueError(f"unknown facet {name}")
    if facet._schemaURL != d["_schemaURL"]:
        raise ValueError(f"facet {name}: schema URL {d['_schemaURL']} is not {facet._schemaURL}")
    return facet


def facets(d):
    return {name: build(name, value) for name, value in (d or {}).items()}


def load(d):
    event = RunEvent(
        eventType=RunState(d["eventType"]),
        eventTime=d["eventTime"],
        run=Run(runId=d["run"]["runId"], facets=facets(d["run"].get("facets"))),
        job=Job(namespace=d["job"]["namespace"], name=d["job"]["name"]),
        inputs=[InputDataset(namespace=i["namespace"], name=i["name"], facets=facets(i.get("facets"))) for i in d["inputs"]],
        outputs=[
            OutputDataset(
                namespace=o["namespace"],
                name=o["name"],
                facets=facets(o.get("facets")),
                outputFacets=facets(o.get("outputFacets")),
            )
            for o in d["outputs"]
        ],
        producer=d["producer"],
    )
    if event.schemaURL != d["schemaURL"]:
        raise ValueError(f"schemaURL {d['schemaURL']} is not {event.schemaURL}")
    return event


count = 0
with open(sys.argv[1]) as lines:
    for number, line in enumerate(lines, 1):
        try:
            load(json.loads(line))
        except Exception as e:  # noqa: BLE001 - the line and the reason are the report
            sys.exit(f"line {number}: {type(e).__name__}: {e}\n{line}")
        count += 1
print(count)
