from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tracker.api"
    label = "tracker_api"
    verbose_name = "API access"

    def ready(self) -> None:
        # DRF's generic classes subscriptable at run time (Serializer[Milestone]), as the
        # type checker reads them; Django's are made so in config/settings.py.
        import django_stubs_ext
        from rest_framework import generics, serializers, viewsets

        django_stubs_ext.monkeypatch(
            extra_classes=[
                serializers.BaseSerializer,
                serializers.Serializer,
                serializers.ModelSerializer,
                serializers.ListSerializer,
                generics.GenericAPIView,
                viewsets.GenericViewSet,
            ]
        )
