"""The shapes of the gallery's one API answer: a public repository's pulls per day and tag."""

from rest_framework import serializers

PULL_SERIES_MAX_DAYS = 366


class PullCountsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=PULL_SERIES_MAX_DAYS, default=30, help_text="how many days back, today included"
    )


class PullCountDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    count = serializers.IntegerField()


class PullCountSeriesSerializer(serializers.Serializer):
    imageTag = serializers.CharField(help_text='the tag pulled; "" for pulls by digest')
    total = serializers.IntegerField()
    days = PullCountDaySerializer(many=True, help_text="days with pulls, oldest first")


class PullCountsSerializer(serializers.Serializer):
    repositoryName = serializers.CharField()
    since = serializers.DateField()
    total = serializers.IntegerField(help_text="pulls since `since`")
    tags = PullCountSeriesSerializer(many=True)
