"""The harness's own rules, without a broker: the Kafka releases the real-Kafka tests cover are
the ones the manifests ship, and a run cleans up only what is its own. No peer."""
import unittest

import harness as h


class ShippedVersion(unittest.TestCase):
    def test_manifest_kafka_image_is_the_shipped_tested_version(self):
        shipped = [v for v, role in h.versions() if role == "shipped"]
        self.assertEqual(len(shipped), 1)
        # As rendered by kubectl kustomize (k8s/base pins the tag in its images: list).
        image = h.manifest()["kafka"]["image"]
        self.assertRegex(image, r"^(docker\.io/)?apache/kafka:" + shipped[0].replace(".", r"\.") + "$")

    def test_a_newest_version_is_tested_besides_the_shipped_one(self):
        roles = dict((role, v) for v, role in h.versions())
        self.assertIn("newest", roles)
        self.assertNotEqual(roles["newest"], roles["shipped"])



class LeftoverNames(unittest.TestCase):
    def test_purge_takes_only_names_this_prefix_makes(self):
        p = h.PREFIX
        self.assertEqual([n for n in (p + "0", p + "12", p + "c", p + "2x", p + "br", p + "cc", p, "x" + p + "0")
                          if h.ours(n)], [p + "0", p + "12", p + "c"])


if __name__ == "__main__":
    unittest.main()
