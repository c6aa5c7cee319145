"""The demo product: created on first use from the generated demo references (resources/demo/references)."""

from __future__ import annotations

from db.errors import NotFoundError
from line.demo_assets import DEMO_PRODUCT_NAME, demo_reference_paths


def ensure_demo_product(database):
    """The demo product's ProductInfo, creating it and adding its references when missing (DatabaseError on failure)."""
    try:
        product = database.products.get(DEMO_PRODUCT_NAME)
    except NotFoundError:
        product = database.products.create(DEMO_PRODUCT_NAME, settings={"demo": True})
    if product.reference_count == 0:
        paths = demo_reference_paths()
        if not paths:
            raise FileNotFoundError("resources/demo/references holds no images; run tools/make_demo_images.py")
        database.references.add(product.id, [str(p) for p in paths], source="file")
        product = database.products.get(product.id)
    return product
