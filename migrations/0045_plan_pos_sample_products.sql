-- Issue 9: a plan with point_of_sale can ask for sample products. Its tenants' shop is then
-- made by Odoo's own bakery onboarding scenario (products, Cash/Card, "Bakery Shop")
-- instead of an empty shop.
ALTER TABLE plans ADD COLUMN pos_sample_products boolean NOT NULL DEFAULT false;
