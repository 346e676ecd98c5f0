"""Amazon ECR's documented example lifecycle policies, as the user guide prints them
("Examples of lifecycle policies in Amazon ECR", lifecycle_policy_examples), with
the repository each example describes: (tags, days since the push) per image.

The guide's "multiple rules" and "multiple tags" examples omit the comma after
``"rulePriority": 1`` (and Example B of the multiple rules has a stray comma after
its last rule), which neither ECR nor any JSON parser accepts; they are copied here
with those commas put right and nothing else changed."""

AGE_TAGGED = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire images older than 14 days",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["prod*"],
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

AGE_UNTAGGED = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire images older than 14 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

COUNT_UNTAGGED = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep only one untagged image, expire all others",
            "selection": {
                "tagStatus": "untagged",
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

MULTIPLE_RULES_A = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["prod"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        },
        {
            "rulePriority": 2,
            "description": "Rule 2",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["beta"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

MULTIPLE_RULES_B = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["beta"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        },
        {
            "rulePriority": 2,
            "description": "Rule 2",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["prod"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

MULTIPLE_RULES_REPOSITORY = {"A": (("beta-1", "prod-1"), 10), "B": (("beta-2", "prod-2"), 9), "C": (("beta-3",), 8)}

MULTIPLE_TAGS_A = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["alpha", "beta"],
                "countType": "sinceImagePushed",
                "countNumber": 5,
                "countUnit": "days"
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

MULTIPLE_TAGS_A_REPOSITORY = {
    "A": (("alpha-1",), 12),
    "B": (("beta-1",), 11),
    "C": (("alpha-2", "beta-2"), 10),
    "D": (("alpha-3",), 4),
    "E": (("beta-3",), 3),
    "F": (("alpha-4", "beta-4"), 2),
}

MULTIPLE_TAGS_B = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Rule 1",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["alpha", "beta"],
                "countType": "imageCountMoreThan",
                "countNumber": 1
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""

MULTIPLE_TAGS_B_REPOSITORY = {
    "A": (("alpha-1", "beta-1", "gamma-1"), 10),
    "B": (("alpha-2", "beta-2"), 9),
    "C": (("alpha-3", "beta-3", "gamma-2"), 8),
}

# (policy, repository, the images the guide says are expired)
EXAMPLES = {
    "multiple-rules-a": (MULTIPLE_RULES_A, MULTIPLE_RULES_REPOSITORY, {"A"}),
    "multiple-rules-b": (MULTIPLE_RULES_B, MULTIPLE_RULES_REPOSITORY, {"A", "B"}),
    "multiple-tags-a": (MULTIPLE_TAGS_A, MULTIPLE_TAGS_A_REPOSITORY, {"C"}),
    "multiple-tags-b": (MULTIPLE_TAGS_B, MULTIPLE_TAGS_B_REPOSITORY, {"A", "B"}),
}
