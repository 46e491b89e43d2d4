# The admin's pages, in English. Every key here must exist in ../ru/admin.ftl too (a test checks).
# `admin-title` is in shop.ftl (the header's link shares it).

admin-nav-label = Admin sections
admin-nav-home = Overview
admin-nav-products = Products
admin-nav-templates = Templates
admin-nav-categories = Categories
admin-nav-orders = Orders
admin-nav-users = Users
admin-nav-stats = Sales
admin-home-products = Search, add and edit products; stock, images, deactivation.
admin-home-templates = Attribute templates: the JSON Schema a product's details must follow.
admin-home-categories = The shop's categories.
admin-home-orders = Every order, by status, customer and date; cancel placed ones.
admin-home-users = Roles, access and premium plans.
admin-home-stats = Orders, revenue, best sellers and low stock.

admin-save = Save
admin-keep = No, go back
admin-delete = Delete
admin-delete-confirm = Yes, delete it
admin-choose = Choose…
admin-required = required
admin-active = Active
admin-inactive = Inactive
admin-form-invalid = Some fields need attention: see the messages next to them.
admin-refused = The service refused this:
admin-filter-from = From
admin-filter-to = To

admin-col-product = Product
admin-col-sku = SKU
admin-col-price = Price
admin-col-stock = Stock
admin-col-status = Status
admin-col-categories = Categories
admin-col-actions = Actions
admin-col-fields = Fields
admin-col-products = Products
admin-col-order = Order
admin-col-date = Date
admin-col-customer = Customer
admin-col-items = Items
admin-col-total = Total
admin-col-email = Email
admin-col-registered = Registered
admin-col-quantity = Quantity

admin-field-sku = SKU
admin-field-sku-hint = 1 to 64 letters, digits, dots, dashes or underscores; unique.
admin-field-name = Name
admin-field-description = Description
admin-field-price = Price
admin-field-price-hint = For example 24990 or 24 990,50.
admin-field-stock = Stock at start
admin-field-active = Active (sold in the shop)
admin-field-categories = Categories
admin-field-template = Template
admin-field-template-hint = Its fields appear below. After choosing another template, press the save button: the form first shows the new fields and saves nothing yet.
admin-field-images = Images
admin-field-images-hint = One image address (https://…) per line, the main image first; at most 20.
admin-field-slug = Slug
admin-field-slug-hint = Lower-case letters and digits in words joined by dashes, as in home-kitchen.
admin-field-schema = JSON Schema
admin-field-schema-hint = A JSON object: "properties" become the product form's fields ("title" is the label, "x-unit" the unit, "enum" a list to choose from); "required" lists the mandatory ones.
admin-field-role = Role
admin-field-plan = Plan
admin-field-user-active = Account active
admin-field-user-active-hint = Deactivating signs the user out everywhere and blocks logging in.
admin-field-extend = Add days of premium
admin-field-extend-hint = 1 to 3650 days, from today or from the current end of premium. Leave the plan as it is when adding days.

admin-rule-empty = This must not be empty.
admin-rule-required = Fill this in: the template requires it.
admin-rule-max-chars = { $count ->
    [one] At most { $count } character, please.
   *[other] At most { $count } characters, please.
}
admin-rule-control = Only printable characters, please.
admin-rule-sku = Use 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.
admin-rule-sku-taken = Another product has this SKU.
admin-rule-slug = Use lower-case letters and digits in words joined by single dashes.
admin-rule-slug-taken = Another category has this slug.
admin-rule-template-name-taken = Another template has this name.
admin-rule-price = Enter a price such as 24990 or 24 990,50.
admin-rule-price-decimals = At most two decimal places.
admin-rule-price-max = The price is too high.
admin-rule-negative = This must not be negative.
admin-rule-whole-number = Enter a whole number.
admin-rule-image = Line { $count } is not an image address the shop accepts (http or https, without a password).
admin-rule-unknown-category = This category does not exist any more. Reload the page.
admin-rule-no-template = This template does not exist any more. Reload the page.
admin-rule-schema = This is not a JSON Schema the catalog accepts:
admin-rule-date = Enter a date such as 2026-11-23.
admin-rule-threshold = Enter a whole number from 0.
admin-rule-delta = Enter a whole number other than 0: positive to add, negative to remove.
admin-rule-choose = Choose one of the options.
admin-rule-extend-days = Enter a number of days from 1 to 3650.
admin-rule-extend-with-plan = Add days without changing the plan (or change the plan without adding days).
admin-schema-not-json = This is not valid JSON
admin-schema-line = line { $count }
admin-schema-column = column { $count }

admin-products-title = Products
admin-products-back = ← All products
admin-products-search = Search by name, description or SKU
admin-products-low = Low stock only
admin-products-threshold = At most in stock
admin-products-low-truncated = Only the first 1000 products were checked for low stock: narrow the search to see the rest.
admin-products-none = No products match.
admin-products-found = { $count ->
    [one] { $count } product
   *[other] { $count } products
}
admin-product-new = New product
admin-product-create = Create the product
admin-product-details = Details
admin-product-version = version { $count }
admin-product-in-shop = see it in the shop
admin-product-conflict = Someone else changed this product since you opened it, so your changes were not saved. Open the current version and make them again.
admin-product-reload = Open the current version
admin-product-template-fields = The template changed: fill in its fields, then save. Nothing is saved yet.
admin-product-deactivate = Deactivate the product
admin-product-deactivate-question = Deactivate this product? It disappears from the shop; orders keep it. You can activate it again in its form.
admin-product-deactivate-confirm = Yes, deactivate it
admin-product-inactive-hint = This product is not sold: tick "Active" in the form above and save to sell it again.
admin-template-none = No template
admin-attributes-of = Details from the template
admin-attributes-none = This template defines no fields.
admin-stock = Stock
admin-stock-now = { $count ->
    [one] { $count } unit can be sold now (reserved units excluded).
   *[other] { $count } units can be sold now (reserved units excluded).
}
admin-stock-delta = Change by
admin-stock-delta-hint = Positive to add, negative to remove (for example -3).
admin-stock-apply = Change the stock
admin-stock-out-of-range = { $count ->
    [one] Stock cannot go below zero: there is { $count } unit now.
   *[other] Stock cannot go below zero: there are { $count } units now.
}
admin-images-list = Image addresses
admin-images-save = Save the images
admin-image-alt = Image { $count }

admin-templates-title = Templates
admin-templates-back = ← All templates
admin-templates-none = There are no templates yet.
admin-template-new = New template
admin-template-edit = Edit the template
admin-template-create = Create the template
admin-template-use = New product with it
admin-template-preview = Fields of the product form
admin-template-delete = Delete the template
admin-template-delete-question = Delete this template? It can only be deleted when no product uses it.
admin-template-in-use = Products still use this template: move them to another template (or to none) first.
admin-kind-text = text
admin-kind-integer = whole number
admin-kind-number = number
admin-kind-boolean = yes or no
admin-kind-choice = choice

admin-categories-title = Categories
admin-categories-back = ← All categories
admin-categories-none = There are no categories yet.
admin-category-new = New category
admin-category-edit = Edit the category
admin-category-create = Create the category
admin-category-delete = Delete the category
admin-category-delete-question = { $count ->
    [one] Delete this category? Its { $count } product stays in the shop, without it.
   *[other] Delete this category? Its { $count } products stay in the shop, without it.
}
admin-category-products = { $count ->
    [one] { $count } active product
   *[other] { $count } active products
}

admin-orders-title = Orders
admin-orders-all = All
admin-orders-user = Customer (email or id)
admin-orders-user-unknown = No customer has this email.
admin-orders-user-ambiguous = Several customers match: type the whole email.
admin-orders-none = No orders match.
admin-orders-found = { $count ->
    [one] { $count } order
   *[other] { $count } orders
}
admin-order-cancel = Cancel
admin-order-cancel-question = Cancel this order? Its items go back on sale.
admin-order-cancel-confirm = Yes, cancel the order

admin-users-title = Users
admin-users-back = ← All users
admin-users-search = Search by email
admin-users-none = No users match.
admin-users-found = { $count ->
    [one] { $count } user
   *[other] { $count } users
}
admin-role-customer = Customer
admin-role-admin = Administrator
admin-user-access = Access and plan
admin-user-orders = This user's orders
admin-user-myself = This is your own account: you cannot remove your own admin role or deactivate yourself.
admin-user-self-lockout = You cannot demote or deactivate yourself. Ask another administrator.

admin-stats-title = Sales
admin-stats-threshold = Low stock below
admin-stats-orders = Orders
admin-stats-revenue = Revenue
admin-stats-average = Average order
admin-stats-period = Period:
admin-stats-placed-only = Placed orders only; canceled ones are not sales.
admin-stats-daily = The last 7 days
admin-stats-daily-chart = Revenue per day over the last 7 days (the figures are in the table below)
admin-stats-daily-table = Orders and revenue per day
admin-stats-orders-count = { $count ->
    [one] { $count } order
   *[other] { $count } orders
}
admin-stats-top-quantity = Best sellers by quantity
admin-stats-top-revenue = Best sellers by revenue
admin-stats-units = { $count ->
    [one] { $count } unit
   *[other] { $count } units
}
admin-stats-no-sales = No sales in this period.
admin-stats-low-stock = Low stock
admin-stats-low-stock-none = No active product is below the threshold.
admin-stats-low-stock-unavailable = The catalog did not answer: the low-stock list is unavailable right now.

notice-admin-product-created = The product is created.
notice-admin-product-saved = The product is saved.
notice-admin-product-deactivated = The product is deactivated.
notice-admin-images-saved = The images are saved.
notice-admin-stock-adjusted = The stock is changed.
notice-admin-template-created = The template is created.
notice-admin-template-saved = The template is saved. Products are checked against it the next time they are saved.
notice-admin-template-deleted = The template is deleted.
notice-admin-category-created = The category is created.
notice-admin-category-saved = The category is saved.
notice-admin-category-deleted = The category is deleted.
notice-admin-order-canceled = The order is canceled; its items are back on sale.
notice-admin-order-not-cancelable = This order cannot be canceled: only placed orders can.
notice-admin-user-saved = The user is saved.
