"""The Kafka releases the real-Kafka tests cover are the ones the manifests ship. No peer."""
import os
import unittest

import harness as h


class ShippedVersion(unittest.TestCase):
    def test_manifest_kafka_image_is_the_shipped_tested_version(self):
        shipped = [v for v, role in h.versions() if role == "shipped"]
        self.assertEqual(len(shipped), 1)
        # k8s/base pins the image through kustomize's images: list.
        with open(os.path.join(h.REPO, "k8s", "base", "kustomization.yaml")) as f:
            images = {i["name"]: i for i in h.yaml.safe_load(f)["images"]}
        self.assertEqual(h.manifest()["kafka"]["image"], "apache/kafka")
        self.assertEqual(images["apache/kafka"]["newTag"], shipped[0])

    def test_a_newest_version_is_tested_besides_the_shipped_one(self):
        roles = dict((role, v) for v, role in h.versions())
        self.assertIn("newest", roles)
        self.assertNotEqual(roles["newest"], roles["shipped"])
        self.assertTrue(os.path.exists(os.path.join(h.HERE, "pom.xml")))


if __name__ == "__main__":
    unittest.main()
